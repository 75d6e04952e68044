-- The rendezvous port a command job held while it ran (`MASTER_PORT`, `{{ launch }}`): the
-- scheduler hands each running command job its own, so two torchrun jobs side by side never
-- meet on one port. NULL for built-in jobs and runs from before this column.
ALTER TABLE runs ADD COLUMN rdzv_port INTEGER;
