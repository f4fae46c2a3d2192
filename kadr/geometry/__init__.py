"""Motion, geometry and regions: optical flow, mask channels, keypoint alignment,
object tracking, segmentation (and oriented/Gaussian boxes).

Submodules are imported on demand (``from kadr.geometry.flow import optical_flow``); this
package imports nothing heavy itself.
"""
