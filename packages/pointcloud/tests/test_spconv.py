"""spconv (pinned spconv-cu120 2.3.6) runs a submanifold sparse convolution on CPU with ConvAlgo.Native.

LION's 3D spatial descriptor is a SubMConv3d; this checks the pinned wheel against a dense Conv3d
evaluated at the active sites, forward and backward, on this machine's CPU.
"""

import torch


def test_submanifold_conv_on_cpu_equals_dense_conv_at_active_sites():
    import spconv.pytorch as spconv
    from spconv.core import ConvAlgo

    torch.manual_seed(0)
    coords = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 2], [0, 2, 1, 1], [0, 5, 5, 5], [1, 3, 3, 3]], dtype=torch.int32)
    features = torch.randn(5, 3, requires_grad=True)
    conv = spconv.SubMConv3d(3, 4, 3, padding=1, bias=False, indice_key="subm", algo=ConvAlgo.Native)
    sparse = spconv.SparseConvTensor(features, coords, [8, 8, 8], batch_size=2)
    out = conv(sparse)
    # submanifold: the output sites are the input sites
    assert torch.equal(out.indices, coords)
    # spconv's weight is [out, kx, ky, kz, in]
    dense = torch.nn.functional.conv3d(sparse.dense(), conv.weight.permute(0, 4, 1, 2, 3), padding=1)
    index = coords.long()
    expected = dense[index[:, 0], :, index[:, 1], index[:, 2], index[:, 3]]
    torch.testing.assert_close(out.features, expected, rtol=1e-5, atol=1e-5)
    out.features.square().sum().backward()
    features_ref = features.detach().clone().requires_grad_(True)
    ref = spconv.SparseConvTensor(features_ref, coords, [8, 8, 8], batch_size=2).dense()
    dense_ref = torch.nn.functional.conv3d(ref, conv.weight.detach().permute(0, 4, 1, 2, 3), padding=1)
    dense_ref[index[:, 0], :, index[:, 1], index[:, 2], index[:, 3]].square().sum().backward()
    torch.testing.assert_close(features.grad, features_ref.grad, rtol=1e-5, atol=1e-5)
