"""`mlops demo`: the whole model lifecycle on the local stack."""
