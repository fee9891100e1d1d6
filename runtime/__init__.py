"""From a bundle to an image: the step scheduler and its backends. Imports no torch."""
