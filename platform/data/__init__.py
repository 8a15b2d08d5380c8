"""Loaders for the read-only real data sets in the shared data folder (../shared/data).

One module per data set (nowplaying, lastfm_kg, spotify, emomusic); each validates what
it reads and raises ``common.DataFileError`` naming the file and the problem.
Submodules are imported explicitly so ``import encore.platform.data`` stays light.
"""
