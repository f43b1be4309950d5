"""Audio-visual stage: active speaker detection (Light-ASD) and phrase -> face assignment."""
