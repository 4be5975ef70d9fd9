"""The fund pool (基金库): money in a double-entry ledger, donations, crowdfunding, allocation,
and public disclosure."""
