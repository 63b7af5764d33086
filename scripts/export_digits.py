"""Export scikit-learn's 8x8 digits (UCI Optical Recognition of Handwritten Digits, test part;
1797 images x 64 pixels with values 0..16, 10 classes; BSD licence, as shipped by scikit-learn)
once to data/digits/, where the npm package ships them (package.json "files").

    /usr/bin/python3 scripts/export_digits.py

Writes data/digits/images.npy (float16 [1797 x 64], the pixel counts 0..16, exact in float16)
and data/digits/labels.npy (float16 [1797], the digit 0..9). sparsecode reads them with its own
.npy reader; float16 halves the size of the float32 file at no loss.
"""
import os
import numpy as np
from sklearn.datasets import load_digits

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, '..', 'data', 'digits')
os.makedirs(out, exist_ok=True)
d = load_digits()
X = d.data.astype(np.float16)
y = d.target.astype(np.float16)
assert np.array_equal(X.astype(np.float64), d.data) and np.array_equal(y.astype(np.int64), d.target)
np.save(os.path.join(out, 'images.npy'), X)
np.save(os.path.join(out, 'labels.npy'), y)
print(X.shape, y.shape, np.bincount(d.target))
