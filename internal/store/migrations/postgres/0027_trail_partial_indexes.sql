-- The trail's indexes (0008) hold only the traces that name a patient. The anchor traces
-- (one per chain opened, trace.chain_open) and an actor's traces on no patient have a NULL
-- patient_id, which no trail query looks for (each asks for patient_id = a patient, which
-- the planners read as implying NOT NULL, so they keep using these indexes: checked by
-- TestTrailQueriesUseTheTrailIndexes). Each space the opt-out import creates writes an anchor
-- beside its creation trace: two index entries fewer per space, about 5 % of the import's
-- time on SQLite (bench/README.md, "The opt-out import").
DROP INDEX traces_by_patient_id;
DROP INDEX traces_by_patient_actor;
CREATE INDEX traces_by_patient_id ON traces (patient_id, id DESC) WHERE patient_id IS NOT NULL;
CREATE INDEX traces_by_patient_actor ON traces (patient_id, actor_id, id DESC) WHERE patient_id IS NOT NULL;
