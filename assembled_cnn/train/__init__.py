"""The Estimator-style part: task (losses, metrics, steps) and the generic runner."""
