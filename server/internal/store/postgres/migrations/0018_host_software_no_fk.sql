-- host_software keeps its integrity by construction instead of by foreign
-- key. Ingest inserts a link only to a catalog row its batch has just
-- ensured and for a host its batch holds locked; catalog rows are never
-- deleted; DeleteHost locks the host, removes its links (taking the
-- catalog counts down) and only then the host. The two per-row checks
-- were a quarter of the cost of a host's first 500 links, and the check
-- on software took a share lock on the popular catalog rows in every
-- concurrent ingest transaction.
ALTER TABLE host_software DROP CONSTRAINT host_software_host_id_fkey;
ALTER TABLE host_software DROP CONSTRAINT host_software_software_id_fkey;
