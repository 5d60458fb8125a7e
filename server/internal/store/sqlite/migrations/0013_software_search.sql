-- Case-insensitive software search: prefix and glob searches read the
-- catalog rows of a name range, lower(name) >= prefix AND lower(name) <
-- the next string after all names starting with prefix, from this index. lower() folds ASCII letters only; the
-- server folds the searched name the same way.
CREATE INDEX software_name_lower ON software (lower(name));
