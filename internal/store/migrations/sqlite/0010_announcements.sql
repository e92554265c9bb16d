-- The documents held back from the patient (INVISIBLE_PATIENT) whose announcement delay ends:
-- the job that releases them reads this index, which holds only the ones held back.
CREATE INDEX documents_held_back ON documents (visible_at) WHERE is_current AND invisible_patient;
