"""tinydl.ops: the forward/backward op pairs, the only door to the kernels.

Each family module validates its input once (shapes, dtypes, ranges; a ValueError or
TypeError naming what was expected and what was received), makes arrays contiguous, then
calls the same-named function of the active device's kernel module (tinydl.device.backend).
Each forward returns (out, cache); the matching backward takes (dout, cache).
"""
