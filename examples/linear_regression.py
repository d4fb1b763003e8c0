"""The tutorial "Understanding PyTorch with an example", with srcdiff in place of torch.

A linear regression y = a + b x, fitted seven ways in the tutorial's order: NumPy by hand,
tensors with autograd and manual updates, an optimizer and a loss, a Module, nn.Linear
and nn.Sequential, a training step, and minibatches with a validation set. Each fit of
the 80 training points prints a and b (about 1.0235 and 1.9690 after 1000 epochs).
"""

import numpy as np

import srcdiff as sd
from srcdiff import data, nn, optim

LR = 1e-1
N_EPOCHS = 1000


def data_gen():
    # Data Generation
    np.random.seed(42)

    a, b = 1, 2
    x = np.random.rand(100, 1)
    y = a + b * x + 0.1 * np.random.randn(100, 1)

    # Shuffles the indices
    idx = np.arange(100)
    np.random.shuffle(idx)

    # Uses first 80 random indices for train, the remaining ones for validation
    train_idx = idx[:80]
    val_idx = idx[80:]

    return x, y, x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def numpy_gradient_descent(x_train, y_train):
    """Step 0: the gradients worked out by hand."""
    np.random.seed(42)
    a = np.random.randn(1)
    b = np.random.randn(1)
    for _ in range(N_EPOCHS):
        yhat = a + b * x_train
        error = y_train - yhat
        a_grad = -2 * error.mean()
        b_grad = -2 * (x_train * error).mean()
        a = a - LR * a_grad
        b = b - LR * b_grad
    return a, b


def autograd_manual_updates(x_train_tensor, y_train_tensor):
    """Autograd computes the gradients; the update happens under no_grad."""
    sd.manual_seed(42)
    device = x_train_tensor.device
    a = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    b = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    for _ in range(N_EPOCHS):
        yhat = a + b * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with sd.no_grad():
            a -= LR * a.grad
            b -= LR * b.grad
        a.grad.zero_()
        b.grad.zero_()
    return a, b, loss


def optimizer_and_loss(x_train_tensor, y_train_tensor):
    """optim.SGD updates the parameters, nn.MSELoss computes the loss."""
    sd.manual_seed(42)
    device = x_train_tensor.device
    a = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    b = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD([a, b], lr=LR)
    for _ in range(N_EPOCHS):
        yhat = a + b * x_train_tensor
        loss = loss_fn(y_train_tensor, yhat)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return a, b


class ManualLinearRegression(nn.Module):
    def __init__(self):
        super().__init__()
        # To make "a" and "b" real parameters of the model, we wrap them with nn.Parameter
        self.a = nn.Parameter(sd.randn(1, requires_grad=True, dtype=sd.float))
        self.b = nn.Parameter(sd.randn(1, requires_grad=True, dtype=sd.float))

    def forward(self, x):
        # Computes the outputs / predictions
        return self.a + self.b * x


class LayerLinearRegression(nn.Module):
    def __init__(self):
        super().__init__()
        # Instead of our custom parameters, we use a Linear layer with single input and output
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


def make_train_step(model, loss_fn, optimizer):
    """A function performing one step of the training loop."""

    # Compiled by srcdiff: loss.backward() runs the adjoint generated for this source.
    @sd.differentiate
    def train_step(x, y):
        # Sets model to TRAIN mode
        model.train()
        # Makes predictions
        yhat = model(x)
        # Computes loss
        loss = loss_fn(y, yhat)
        # Computes gradients
        loss.backward()
        # Updates parameters and zeroes gradients
        optimizer.step()
        optimizer.zero_grad()
        # Returns the loss
        return loss.item()

    return train_step


def fit_model(model, x_train_tensor, y_train_tensor):
    """The model, optimizer and loss of the tutorial's 'Full Code', through a train step."""
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=LR)
    train_step = make_train_step(model, loss_fn, optimizer)
    losses = [train_step(x_train_tensor, y_train_tensor) for _ in range(N_EPOCHS)]
    return losses, train_step


def minibatches(x, y, device):
    """TensorDataset, random_split and DataLoader, with a validation loss per epoch."""
    x_tensor = sd.from_numpy(x).float()
    y_tensor = sd.from_numpy(y).float()
    dataset = data.TensorDataset(x_tensor, y_tensor)
    sd.manual_seed(42)
    train_dataset, val_dataset = data.random_split(dataset, [80, 20])
    train_loader = data.DataLoader(dataset=train_dataset, batch_size=16)
    val_loader = data.DataLoader(dataset=val_dataset, batch_size=20)

    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=LR)
    train_step = make_train_step(model, loss_fn, optimizer)
    losses, val_losses = [], []
    for _ in range(100):
        for x_batch, y_batch in train_loader:
            x_batch = x_batch.to(device)
            y_batch = y_batch.to(device)
            losses.append(train_step(x_batch, y_batch))
        with sd.no_grad():
            for x_val, y_val in val_loader:
                x_val = x_val.to(device)
                y_val = y_val.to(device)
                model.eval()
                yhat = model(x_val)
                val_losses.append(loss_fn(y_val, yhat).item())
    return model, losses, val_losses


def show(label, a, b):
    print(f"{label:<34} a = {float(a):.4f}  b = {float(b):.4f}")


def main():
    x, y, x_train, y_train, x_val, y_val = data_gen()

    a, b = numpy_gradient_descent(x_train, y_train)
    show("numpy, gradients by hand:", a[0], b[0])

    device = "cuda" if sd.cuda.is_available() else "cpu"
    x_train_tensor = sd.from_numpy(x_train).float().to(device)
    y_train_tensor = sd.from_numpy(y_train).float().to(device)
    print(type(x_train), type(x_train_tensor), x_train_tensor.type())

    a, b, loss = autograd_manual_updates(x_train_tensor, y_train_tensor)
    print(a, b)
    show("autograd, updates under no_grad:", a, b)
    print("\nThe adjoint source the last loss.backward() ran:")
    print(sd.source(loss))

    a, b = optimizer_and_loss(x_train_tensor, y_train_tensor)
    show("optim.SGD and nn.MSELoss:", a, b)

    sd.manual_seed(42)
    model = ManualLinearRegression().to(device)
    print(model.state_dict())
    _, train_step = fit_model(model, x_train_tensor, y_train_tensor)
    print(model.state_dict())
    show("ManualLinearRegression(nn.Module):", model.a, model.b)
    print("\nThe source the last train_step ran (primal and adjoint, the model's forward and")
    print("the loss inlined, each line under a comment naming its file and line):")
    print(sd.source(train_step))

    sd.manual_seed(42)
    model = LayerLinearRegression().to(device)
    fit_model(model, x_train_tensor, y_train_tensor)
    show("nn.Linear inside a Module:", model.linear.bias, model.linear.weight)

    sd.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    losses, _ = fit_model(model, x_train_tensor, y_train_tensor)
    print(model)
    show("nn.Sequential, make_train_step:", model[0].bias, model[0].weight)
    print(f"{'':<34} training loss {losses[0]:.4f} -> {losses[-1]:.4f}")

    model, losses, val_losses = minibatches(x, y, device)
    print(model.state_dict())
    show("minibatches of 16, random_split:", model[0].bias, model[0].weight)
    print(f"{'':<34} validation loss {val_losses[-1]:.4f}")


if __name__ == "__main__":
    main()
