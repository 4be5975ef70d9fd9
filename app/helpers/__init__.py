"""户帮户亲帮亲: a primary helper and a liaison for each key household, and their help acts."""
