-- What steward-agent.wxs needs and wixl cannot express. After wixl,
-- installers/packaging.MSI runs each statement below on the new database
-- with `msibuild PACKAGE.msi -q STATEMENT` (Windows Installer SQL). A
-- statement ends with a semicolon at the end of a line; lines starting
-- with -- are comments; $(Version) is replaced with the product version
-- first. The tests in installers/packaging check the result with msiinfo.

-- Upgrades: remove the old version before installing the new one. wixl
-- schedules RemoveExistingProducts after InstallFinalize, where removing
-- the old version would stop and delete the service the new one has just
-- registered under the same name. 1450 is between InstallValidate (1400)
-- and InstallInitialize (1500).
UPDATE `InstallExecuteSequence` SET `Sequence` = 1450 WHERE `Action` = 'RemoveExistingProducts';

-- Upgrades: a different build of the same version (1.2.0~rc.1 and 1.2.0
-- both become MSI version 1.2.0) replaces the installed one instead of
-- being installed beside it. wixl's MajorUpgrade detects only older
-- versions; this row adds exactly this version (1 migrate features + 256
-- minimum inclusive + 512 maximum inclusive), with the UpgradeCode of
-- steward-agent.wxs. Newer versions are still refused by the downgrade
-- check.
INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMin`, `VersionMax`, `Attributes`, `ActionProperty`) VALUES ('{DBACBE25-68CD-4FC5-890B-DC39A69D9765}', '$(Version)', '$(Version)', 769, 'WIX_UPGRADE_DETECTED');

-- msiexec passes these public properties on to the elevated part of the
-- installation (wixl has no Secure attribute).
UPDATE `Property` SET `Value` = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;STEWARD_SERVER;ENROLL_SECRET;CA_FILE;STEWARD_LABELS' WHERE `Property` = 'SecureCustomProperties';

-- WriteAgentConfig: 18 (run an installed file) + 1024 (deferred) + 2048
-- (no impersonation: LocalSystem) + 8192 (HideTarget: its command line,
-- which holds ENROLL_SECRET, is not written to the installation log).
UPDATE `CustomAction` SET `Type` = 11282 WHERE `Action` = 'WriteAgentConfig';

-- Start the service only when the agent has a server: given now, or in an
-- agent.yaml from an earlier installation (found by the search below).
-- Otherwise it stays registered and stopped rather than fail to start and
-- roll the installation back.
UPDATE `Component` SET `Condition` = 'STEWARD_SERVER OR STEWARD_CONFIG_FOUND' WHERE `Component` = 'AgentStart';

-- STEWARD_CONFIG_FOUND: the path of %ProgramData%\Steward\agent.yaml when
-- it exists. AppSearch runs in both sequences; the elevated one can read
-- the locked folder.
CREATE TABLE `DrLocator` (`Signature_` CHAR(72) NOT NULL, `Parent` CHAR(72), `Path` CHAR(255), `Depth` SHORT PRIMARY KEY `Signature_`, `Parent`, `Path`);
INSERT INTO `Signature` (`Signature`, `FileName`) VALUES ('AgentConfigFile', 'agent~1.yam|agent.yaml');
INSERT INTO `DrLocator` (`Signature_`, `Path`, `Depth`) VALUES ('AgentConfigFile', '[CommonAppDataFolder]Steward', 0);
INSERT INTO `AppSearch` (`Property`, `Signature_`) VALUES ('STEWARD_CONFIG_FOUND', 'AgentConfigFile');
INSERT INTO `InstallUISequence` (`Action`, `Sequence`) VALUES ('AppSearch', 50);
INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('AppSearch', 50);

-- %ProgramData%\Steward (agent.yaml, enroll-secret, ca.pem, the node key
-- in agent\) is readable by SYSTEM and Administrators only: a protected
-- DACL, inherited by everything created in it. Users can read
-- %ProgramData% subfolders by default, which would expose the secret.
CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, `LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL, `Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`);
INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`) VALUES ('DataDirAcl', 'DATADIR', 'CreateFolder', 'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)');

-- Service recovery: restart after 5 s, 15 s and 60 s; the failure count
-- resets after a day without failures. Event 1 + 4: on installation and
-- repair.
CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL, `Event` SHORT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255), `Command` CHAR(255), `Actions` CHAR(255), `DelayActions` CHAR(255), `Component_` CHAR(72) NOT NULL PRIMARY KEY `MsiServiceConfigFailureActions`);
INSERT INTO `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions`, `Name`, `Event`, `ResetPeriod`, `Actions`, `DelayActions`, `Component_`) VALUES ('AgentRecovery', 'steward-agent', 5, 86400, '1[~]1[~]1', '5000[~]15000[~]60000', 'AgentExe');

-- ConfigType 4 (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG): the recovery above
-- also applies when the agent stops with an error, not only when it
-- crashes. ConfigType 3 (SERVICE_CONFIG_DELAYED_AUTO_START_INFO): start a
-- little after boot, out of the way of services the machine needs first.
CREATE TABLE `MsiServiceConfig` (`MsiServiceConfig` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL, `Event` SHORT NOT NULL, `ConfigType` LONG NOT NULL, `Argument` CHAR(255), `Component_` CHAR(72) NOT NULL PRIMARY KEY `MsiServiceConfig`);
INSERT INTO `MsiServiceConfig` (`MsiServiceConfig`, `Name`, `Event`, `ConfigType`, `Argument`, `Component_`) VALUES ('AgentFailureFlag', 'steward-agent', 5, 4, '1', 'AgentExe');
INSERT INTO `MsiServiceConfig` (`MsiServiceConfig`, `Name`, `Event`, `ConfigType`, `Argument`, `Component_`) VALUES ('AgentDelayedStart', 'steward-agent', 5, 3, '1', 'AgentExe');

-- MsiConfigureServices applies the two tables above; it must come after
-- InstallServices (5800) and before StartServices (5900).
INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('MsiConfigureServices', 'VersionNT >= 600', 5850);
