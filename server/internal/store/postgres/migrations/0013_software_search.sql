-- Case-insensitive software search. Prefix searches, and globs with a
-- literal start, read the catalog rows of a name range, lower(name) >=
-- prefix AND lower(name) < the next string after every name starting
-- with prefix, from this index. name is COLLATE "C", so lower() folds
-- ASCII letters only (as the server folds the searched name) and the
-- index compares bytes, which is what makes the range exact. A glob
-- starting with "*" reads the catalog whole: it has one row per distinct
-- (name, version, arch, source), not one per host (see docs/storage.md).
CREATE INDEX software_name_lower ON software (lower(name));
