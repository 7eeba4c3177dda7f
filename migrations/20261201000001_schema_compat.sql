-- paliadin: compatible
-- Schema versions an older binary may run against. `paliadin-api migrate` records here every
-- migration whose file carries the marker line above (expand-only: it adds, never removes or
-- changes what released binaries read or write). A binary that finds applied migrations it does
-- not know refuses to start unless each of them is listed here (docs/operations.md, "Upgrades").
CREATE TABLE schema_compat (
    version     bigint PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
