"""Rendering: subtitle layout and timing, the type-then-decode effect, drawing, burn-in and exports.

`layout.layout(scene)` turns a Scene into placed, timed cues; `burn.burn(...)`
draws them onto the video and writes the subtitle files beside it.
"""
