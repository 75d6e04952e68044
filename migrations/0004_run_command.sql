-- What a run executed and what its cache key was made of (issue 19): the rendered shell
-- command of a command job (`params.run` holds the template), and the key's other inputs as
-- JSON — {"impl_version": n, "upstream": {job: cache key}, "inputs": {file: fingerprint}} —
-- so that `plan` can say what changed since a run. NULL for built-in jobs' command and in
-- runs from before these columns.
ALTER TABLE runs ADD COLUMN command TEXT;
ALTER TABLE runs ADD COLUMN key_inputs TEXT;
