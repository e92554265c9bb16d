-- The catalogue of referenced health apps (internal/catalogue). Each app is an OAuth client
-- (oauth_clients: its name, redirect URIs and scope live there, once); this table holds what
-- the catalogue shows of it and its status.
CREATE TABLE catalogue_apps (
    client_id    TEXT PRIMARY KEY REFERENCES oauth_clients(client_id),
    publisher    TEXT NOT NULL,
    category     TEXT NOT NULL,
    description  TEXT NOT NULL,
    website      TEXT NOT NULL,
    privacy_url  TEXT NOT NULL,
    -- The SMART scopes as the operator wrote them (patient/Observation.c …); the client's
    -- scope is their canonical form restricted to the data categories below.
    scopes       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('candidate', 'referenced', 'suspended', 'withdrawn')),
    -- The logo: a PNG or JPEG checked on the way in, at most 256 KiB.
    logo         BLOB,
    logo_type    TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    status_at    BIGINT NOT NULL
);
CREATE INDEX catalogue_apps_status ON catalogue_apps (status, category);

-- The data categories an app asks for (document classes, TRE_A03), each with the reason the
-- publisher gives, shown to the patient on the app's page and on the consent page.
CREATE TABLE catalogue_app_data (
    client_id      TEXT NOT NULL REFERENCES catalogue_apps(client_id),
    class_code     TEXT NOT NULL,
    justification  TEXT NOT NULL,
    PRIMARY KEY (client_id, class_code)
);
