"""Data sets whose files ship with Debian or pip packages: Fashion-MNIST, scikit-learn digits, scikit-image photos."""
