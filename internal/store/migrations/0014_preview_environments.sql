-- environments.preview_of: a preview environment's fallback. Pull requests' previews are
-- deployed from a preview environment; a preview's service resources resolve to the called
-- app's preview of the same branch when there is one, else to that app in this fallback
-- (docs/git-flow.md). '' for an environment that is no preview environment.
ALTER TABLE environments ADD COLUMN preview_of TEXT NOT NULL DEFAULT '';
