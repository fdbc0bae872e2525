"""Where the base image ends: the boundary (from --base, FROM, local images or history),
attribution of layers and findings to base or own, and the fixes that suggest a slimmer base."""
