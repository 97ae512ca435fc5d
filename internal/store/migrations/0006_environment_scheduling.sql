-- An environment's scheduling defaults, which Berth adds to every pod it renders there:
-- a node selector (a JSON object, label key -> value) and tolerations (a JSON array of
-- {key, operator, value, effect}, in order). Two columns, so that each is replaced on its
-- own. Existing environments get none.

ALTER TABLE environments ADD COLUMN node_selector TEXT NOT NULL DEFAULT '{}';
ALTER TABLE environments ADD COLUMN tolerations TEXT NOT NULL DEFAULT '[]';
