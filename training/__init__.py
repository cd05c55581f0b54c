"""Offline training and evaluation of the urgency model (needs scikit-learn; never imported in Lambda)."""
