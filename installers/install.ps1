<#
.SYNOPSIS
Installs the Steward agent on this Windows machine and enrolls it with a
steward-server.

.DESCRIPTION
Downloads the agent's MSI from -PackagesUrl (or takes -Package), and runs

    msiexec /i steward-agent-VERSION-windows-amd64.msi /qn
        STEWARD_SERVER=... ENROLL_SECRET=... [CA_FILE=...]

which installs the agent under "C:\Program Files\Steward", writes
C:\ProgramData\Steward\agent.yaml and starts the steward-agent service.

The enroll secret comes from -EnrollSecretFile or the environment variable
STEWARD_ENROLL_SECRET. It is on msiexec's command line for the length of
the installation (readable by administrators of this machine only); the
MSI keeps it out of its log.

-PackagesUrl is the base URL the packages are published under; the MSI is
steward-agent-VERSION-windows-amd64.msi there, VERSION from -Version or
else from the file LATEST there. It defaults to SERVER/packages (a web
server or proxy in front of steward-server serving them; steward-server
itself does not).

Plain http:// is refused for the server and the packages unless the host
is this machine (localhost, 127.x.x.x, [::1]) or -InsecureHttp is given:
the enroll secret, and a package run as SYSTEM, would cross the network
unprotected. installers/install.sh applies the same rule with the same
patterns.

There is only an x64 MSI: on Windows on Arm it runs under x64 emulation.

.EXAMPLE
$env:STEWARD_ENROLL_SECRET = Get-Content C:\secret.txt
.\install.ps1 -Server https://steward.example.com:8443 -PackagesUrl https://packages.example.com/steward

.EXAMPLE
.\install.ps1 -Server https://steward.example.com:8443 -EnrollSecretFile C:\secret.txt -CaFile C:\ca.pem -Package .\steward-agent-1.2.0-windows-amd64.msi
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$Server,
    [string]$EnrollSecretFile,
    [string]$CaFile,
    [string]$PackagesUrl,
    [string]$Version,
    [string]$Package,
    [switch]$InsecureHttp,
    [switch]$DryRun
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

# The same three patterns as installers/install.sh (a test checks that
# they agree). -match ignores case, like grep -i there; [!-~] is any
# printable ASCII character but space.
$SecureUrlPattern = '^https://[!-~]+$'
$LoopbackUrlPattern = '^http://(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])(:[0-9]+)?([/?#][!-~]*)?$'
$HttpUrlPattern = '^http://[!-~]+$'

# Test-StewardUrl: whether the URL may be used. A URL with a line break is
# refused before the patterns, as in install.sh.
function Test-StewardUrl([string]$Url, [bool]$AllowInsecureHttp) {
    if ($Url -match "[`r`n]") { return $false }
    if ($Url -match $SecureUrlPattern) { return $true }
    if ($Url -match $LoopbackUrlPattern) { return $true }
    if ($AllowInsecureHttp -and ($Url -match $HttpUrlPattern)) { return $true }
    return $false
}

function Fail([string]$Message, [int]$Code = 1) {
    [Console]::Error.WriteLine("install.ps1: $Message")
    exit $Code
}

if (-not (Test-StewardUrl $Server $InsecureHttp.IsPresent)) {
    Fail "refusing server URL '$Server': use https://, or http:// only to this machine (-InsecureHttp sends the enroll secret in the clear)" 2
}

if ($EnrollSecretFile) {
    if (-not (Test-Path -LiteralPath $EnrollSecretFile -PathType Leaf)) {
        Fail "cannot read the enroll secret file $EnrollSecretFile"
    }
    $secret = (Get-Content -LiteralPath $EnrollSecretFile -Raw).Trim()
} else {
    $secret = "$env:STEWARD_ENROLL_SECRET".Trim()
}
if (-not $secret) {
    Fail 'no enroll secret: give -EnrollSecretFile FILE or set STEWARD_ENROLL_SECRET' 2
}
if ($secret -match '["\r\n]') {
    Fail 'the enroll secret must be one line without double quotes' 2
}

if ($CaFile) {
    if (-not (Test-Path -LiteralPath $CaFile -PathType Leaf)) {
        Fail "cannot read the CA file $CaFile"
    }
    if (-not (Select-String -LiteralPath $CaFile -SimpleMatch -Quiet -Pattern '-----BEGIN CERTIFICATE-----')) {
        Fail "$CaFile has no PEM certificate" 2
    }
    # The MSI runs as SYSTEM and copies the file: give it a full path.
    $CaFile = (Resolve-Path -LiteralPath $CaFile).ProviderPath
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $DryRun -and -not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 'run it from an elevated PowerShell (as Administrator)'
}

# 64-bit Windows on x64 or Arm (the x64 MSI runs under emulation there).
$arch = $env:PROCESSOR_ARCHITEW6432
if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
if ($arch -ne 'AMD64' -and $arch -ne 'ARM64') {
    Fail "unsupported architecture ${arch}: the agent's MSI is for 64-bit Windows"
}

$work = Join-Path ([IO.Path]::GetTempPath()) ('steward-install-' + [Guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory -Path $work | Out-Null
try {
    if (-not $Package) {
        if (-not $PackagesUrl) { $PackagesUrl = $Server.TrimEnd('/') + '/packages' }
        $PackagesUrl = $PackagesUrl.TrimEnd('/')
        if (-not (Test-StewardUrl $PackagesUrl $InsecureHttp.IsPresent)) {
            Fail "refusing packages URL '$PackagesUrl': use https://, or http:// only to this machine (or -InsecureHttp)" 2
        }
        # Windows PowerShell 5.1 may default to TLS 1.0.
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        if (-not $Version) {
            $Version = (Invoke-WebRequest -UseBasicParsing -Uri "$PackagesUrl/LATEST").Content
            if ($Version -is [byte[]]) { $Version = [Text.Encoding]::ASCII.GetString($Version) }
            $Version = $Version.Trim()
        }
        if ($Version -notmatch '^[A-Za-z0-9.+~-]+$') {
            Fail "version '$Version' is not a package version"
        }
        $file = "steward-agent-$Version-windows-amd64.msi"
        $Package = Join-Path $work $file
        if ($DryRun) {
            Write-Output "install.ps1: would download $PackagesUrl/$file"
        } else {
            Write-Output "install.ps1: downloading $PackagesUrl/$file"
            Invoke-WebRequest -UseBasicParsing -Uri "$PackagesUrl/$file" -OutFile $Package
        }
    } elseif (-not (Test-Path -LiteralPath $Package -PathType Leaf)) {
        Fail "cannot read the package $Package"
    } else {
        $Package = (Resolve-Path -LiteralPath $Package).ProviderPath
    }

    $log = Join-Path $work 'msiexec.log'
    $msiArgs = @('/i', "`"$Package`"", '/qn', '/norestart', '/l*v', "`"$log`"",
        "STEWARD_SERVER=`"$Server`"", "ENROLL_SECRET=`"$secret`"")
    if ($CaFile) { $msiArgs += "CA_FILE=`"$CaFile`"" }
    if ($InsecureHttp) { $msiArgs += 'INSECURE_HTTP=1' }
    if ($DryRun) {
        Write-Output ("install.ps1: would run msiexec.exe " + (($msiArgs -join ' ') -replace [regex]::Escape($secret), '********'))
        exit 0
    }
    $p = Start-Process -FilePath msiexec.exe -ArgumentList $msiArgs -Wait -PassThru
    # 0: done; 3010: done, a reboot is pending for something else.
    if ($p.ExitCode -ne 0 -and $p.ExitCode -ne 3010) {
        $kept = Join-Path ([IO.Path]::GetTempPath()) 'steward-agent-msiexec.log'
        Copy-Item -LiteralPath $log -Destination $kept -Force
        Fail "msiexec failed with exit code $($p.ExitCode); its log is $kept"
    }
    Write-Output 'install.ps1: done; check the agent with: Get-Service steward-agent'
} finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
