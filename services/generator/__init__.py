"""`mlops new-model` and `mlops template update`: stamp model projects from templates/model-project and carry
later template changes into them."""
