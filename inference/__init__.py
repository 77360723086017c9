"""Score article dumps paragraph by paragraph with a trained model folder."""
