"""Statistics: publish cohorts and their success rates, township rankings, the calibration of
the success model, and the donors' roll of honour (爱心榜)."""
