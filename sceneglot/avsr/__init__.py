"""Audio-visual speech recognition: mouth regions, the LRW lip-reading models, synced capture, word filtering.

roi: mouth crops from YuNet's landmarks (the LRW recipe's 96x96 / 88x88 grey).
"""
