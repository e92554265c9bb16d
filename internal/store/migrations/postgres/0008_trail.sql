-- The access trail (internal/trail) reads one patient's traces newest first, by id (the order
-- of insertion), page after page from a cursor: traces_by_patient (patient_id, at) cannot give
-- that order. A professional reads only their own traces: traces_by_patient_actor serves it,
-- and the first access of each professional to the patient's data.
CREATE INDEX traces_by_patient_id ON traces (patient_id, id DESC);
CREATE INDEX traces_by_patient_actor ON traces (patient_id, actor_id, id DESC);
-- traces_by_patient (patient_id, at) serves nothing the index by id does not: each index is
-- paid on every trace written, so it goes.
DROP INDEX traces_by_patient;
