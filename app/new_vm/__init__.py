"""New VM and Clone above the connector: the wizard's plan, what it refuses, the tasks."""
