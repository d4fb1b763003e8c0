"""A multilayer perceptron on scikit-learn's handwritten digits (8x8 images, 10 classes),
trained with Adam and cross entropy in minibatches.

It reaches about 97% test accuracy in a few seconds, prints a line per epoch (with a
tqdm progress bar in a terminal or a notebook), and saves the loss curve as a PNG in the
``--out`` folder when matplotlib is installed. Needs scikit-learn (``pip install -e
'.[examples]'``); the data ships with it, nothing is downloaded.
"""

import argparse
from pathlib import Path

import numpy as np

import srcdiff as sd
from srcdiff import data, nn, optim

EPOCHS = 20
BATCH_SIZE = 64


def load(test_fraction=0.25, seed=0):
    """Pixels scaled to [0, 1] as float32 and labels as int64, split into train and test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def make_train_step(model, loss_fn, optimizer):
    # Compiled by srcdiff: loss.backward() runs the adjoint generated for this source.
    @sd.differentiate
    def train_step(x, y):
        model.train()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return train_step


def batches(loader, epoch):
    """The loader's batches, behind a progress bar where one can be drawn: tqdm's, in a
    terminal or a notebook; none in a log (tqdm's ``disable=None``) or without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return loader
    return tqdm(loader, desc=f"epoch {epoch:2d}/{EPOCHS}", leave=False, disable=None)


def accuracy(model, x, y):
    model.eval()
    with sd.no_grad():
        predicted = model(x).argmax(dim=1)
    return float((predicted == y).float().mean())


def plot(losses, path):
    """Save the loss curve, if matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, linewidth=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("cross entropy")
    ax.set_yscale("log")
    ax.set_title("MLP on the digits data set")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"loss curve saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs", help="the folder for the loss curve")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = load()
    print(f"{len(x_train)} training and {len(x_test)} test images of 8x8 pixels")
    sd.manual_seed(0)
    train = data.TensorDataset(sd.from_numpy(x_train), sd.from_numpy(y_train))
    loader = data.DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, drop_last=True)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    print(model)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    train_step = make_train_step(model, nn.CrossEntropyLoss(), optimizer)

    losses = []
    for epoch in range(1, EPOCHS + 1):
        for x, y in batches(loader, epoch):
            losses.append(train_step(x, y))
        print(f"epoch {epoch:2d}/{EPOCHS} loss {np.mean(losses[-len(loader) :]):.4f}")

    test_accuracy = accuracy(model, sd.from_numpy(x_test), sd.from_numpy(y_test))
    print(f"train accuracy {accuracy(model, sd.from_numpy(x_train), sd.from_numpy(y_train)):.4f}")
    print(f"test accuracy {test_accuracy:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(losses, out / "digits_loss.png")

    print("\nThe start of the source the last training step ran:")
    print("\n".join(sd.source(train_step).splitlines()[:40]))


if __name__ == "__main__":
    main()
