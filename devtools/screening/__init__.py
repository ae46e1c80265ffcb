"""The labelled screening corpus's evaluation and the signal's training (scikit-learn)."""
