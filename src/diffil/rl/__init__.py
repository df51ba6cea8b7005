"""RL backbones (Stable-Baselines3) and the plumbing that feeds them learned rewards."""
