"""Video analysis: per-frame statistics, shots, keyframes, exports, evaluation."""
