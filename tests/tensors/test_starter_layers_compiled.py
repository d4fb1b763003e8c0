"""An NLP/tabular starter model (Embedding with padding, LayerNorm, BatchNorm1d, the
parameter containers, the new activations, functions and losses) trained with SGD under
OneCycleLR, and a small CNN and a recurrent language model trained with Adam: the
compiled step gives the losses, parameters and buffers eager code gives."""

import numpy as np

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F


class Starter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(7, 4, padding_idx=0, dtype=sd.float64)
        self.norm = nn.LayerNorm(4, dtype=sd.float64)  # (named as a Tensor method)
        self.hidden = nn.Linear(8, 5, dtype=sd.float64)
        self.batch = nn.BatchNorm1d(5, momentum=None, dtype=sd.float64)
        self.heads = nn.ParameterList([sd.randn(5, 3, dtype=sd.float64)])
        self.extra = nn.ParameterDict({"scale": sd.ones(3, dtype=sd.float64)})
        self.act = nn.Hardtanh(-0.8, 0.8)

    def forward(self, tokens, features):
        e = self.norm(self.embed(tokens)).mean(1)
        h = sd.cat([e, F.normalize(features, dim=1)], 1)
        h = F.relu6(self.batch(self.act(self.hidden(h))) * 4.0)
        h = F.pad(h, (0, 1))[:, :5] + F.logsigmoid(h) * 0.1
        return (h @ self.heads[0]) * self.extra["scale"]


def _step(model, optimizer, tokens, features, target):
    optimizer.zero_grad()
    logits = model(tokens, features)
    loss = F.kl_div(F.log_softmax(logits, 1), target, reduction="batchmean")
    loss = loss + (1.0 - F.cosine_similarity(logits, target)).mean() * 0.1
    loss.backward()
    optimizer.step()
    return loss.detach()


def _train(compiled):
    sd.manual_seed(0)
    model = Starter()
    optimizer = sd.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = sd.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.3, total_steps=6)
    step = sd.differentiate(_step) if compiled else _step
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(5):
        tokens = sd.tensor(rng.integers(0, 7, (6, 3)))
        features = sd.tensor(rng.standard_normal((6, 4)))
        target = F.softmax(sd.tensor(rng.standard_normal((6, 3))), 1)
        losses.append(step(model, optimizer, tokens, features, target).item())
        scheduler.step()
    model.eval()
    out = model(sd.tensor([[1, 0, 3]]), sd.ones(1, 4, dtype=sd.float64))
    return losses, model.state_dict(), out.detach().numpy()


def test_a_starter_model_trains_compiled_as_it_trains_eagerly():
    (want, want_state, want_out), (got, got_state, got_out) = _train(False), _train(True)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert list(got_state) == list(want_state)
    assert int(got_state["batch.num_batches_tracked"]) == 5
    for key in want_state:
        np.testing.assert_allclose(got_state[key].numpy(), want_state[key].numpy(), rtol=1e-11,
                                   atol=1e-13, err_msg=key)  # fmt: skip
    np.testing.assert_allclose(got_out, want_out, rtol=1e-11)
    assert np.all(want_state["embed.weight"].numpy()[0] == 0.0)  # the padding row unmoved


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1, bias=False, dtype=sd.float64),
            nn.BatchNorm2d(4, dtype=sd.float64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, groups=2, dtype=sd.float64),
            nn.GroupNorm(2, 6, dtype=sd.float64),
            nn.AvgPool2d(2, ceil_mode=True),
            nn.Dropout(0.2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6, 3, dtype=sd.float64))

    def forward(self, x):
        return self.head(self.features(x))


class SmallLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(7, 5, padding_idx=0, dtype=sd.float64)
        self.lstm = nn.LSTM(5, 6, 2, batch_first=True, dropout=0.3, dtype=sd.float64)
        self.gru = nn.GRU(6, 4, bidirectional=True, batch_first=True, dtype=sd.float64)
        self.out = nn.Linear(8, 7, dtype=sd.float64)

    def forward(self, tokens):
        h, _ = self.lstm(self.embed(tokens))
        g, _ = self.gru(h)
        return self.out(g).reshape(-1, 7)


def _train_layers(compiled, make, data):
    """Four Adam steps (the third in evaluation mode): the losses and the state dict."""
    sd.manual_seed(0)
    model = make()
    optimizer = sd.optim.Adam(model.parameters(), lr=0.01)

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    run = sd.differentiate(step) if compiled else step
    rng, losses = np.random.default_rng(2), []
    for k in range(4):
        model.train(k != 2)
        sd.manual_seed(10 + k)  # the same dropout masks both ways
        losses.append(run(*data(rng)).item())
    return losses, model.state_dict()


def _images(rng):
    return sd.tensor(rng.standard_normal((4, 1, 10, 10))), sd.tensor(rng.integers(0, 3, (4,)))


def _tokens(rng):
    return sd.tensor(rng.integers(0, 7, (3, 6))), sd.tensor(rng.integers(0, 7, (18,)))


def test_a_cnn_and_a_recurrent_model_train_compiled_as_they_train_eagerly():
    for make, data in ((SmallCNN, _images), (SmallLM, _tokens)):
        (want, want_state), (got, got_state) = (
            _train_layers(compiled, make, data) for compiled in (False, True)
        )
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert list(got_state) == list(want_state)
        for key in want_state:
            np.testing.assert_allclose(got_state[key].numpy(), want_state[key].numpy(),
                                       rtol=1e-10, atol=1e-13, err_msg=key)  # fmt: skip
