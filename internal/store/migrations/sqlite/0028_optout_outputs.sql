-- The opt-out import's checkpoint is saved in the transaction of the batch it records, with
-- the sizes its two output files (rejects, postal notices) had once that batch's lines were
-- written: a run killed after writing a batch's lines but before its commit leaves lines
-- for people who were not created (with activation codes that open nothing), and the
-- resumed run cuts the files back to these sizes before doing the batch again. -1: not
-- recorded (an output that is not a file, or a checkpoint older than this column).
ALTER TABLE optout_imports ADD COLUMN rejects_size BIGINT NOT NULL DEFAULT -1;
ALTER TABLE optout_imports ADD COLUMN postal_size BIGINT NOT NULL DEFAULT -1;
