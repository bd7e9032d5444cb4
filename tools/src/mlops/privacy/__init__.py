"""`mlops privacy`: what the platform does for a data subject's rights on the inference capture (erase)."""
