"""Quick triage of the Triton quantizers against the reference: one line per case (time, first mismatch)."""
import faulthandler
import sys
import time

import torch

sys.path.insert(0, "tests")
from test_kernels import adversarial  # noqa: E402

from gpu_ref import block as gblock  # noqa: E402
from gpu_ref import kernels  # noqa: E402
from hw import formats as F  # noqa: E402


def first_diff(a, b):
    d = (a != b).nonzero()
    return f"{len(d)} differ, first at {d[0].tolist()}: got {a[tuple(d[0])].item()} want {b[tuple(d[0])].item()}" if len(d) else "ok"


faulthandler.dump_traceback_later(100, exit=True)
for name in sys.argv[1].split(","):
    fmt = F.get(name)
    for rounding in sys.argv[2].split(","):
        for two_d in (False, True):
            t0 = time.time()
            shape = (33, 100)
            x = adversarial(shape, fmt, 3)
            try:
                print("launch", flush=True)
                codes, scales, ts = kernels.block_quantize(fmt, x.cuda(), rounding=rounding, seed=9, two_d=two_d)
                print("launched", flush=True)
                torch.cuda.synchronize()
                t1 = time.time()
                wc, ws, wts = gblock.quantize(fmt, x, None, rounding, 9, two_d)
                if fmt.element.width <= 4:
                    wc = gblock.pack_nibbles(wc)
                msg = [f"ts {float(ts.cpu()[0]) == wts}", "scales " + first_diff(scales.cpu().long(), ws),
                       "codes " + first_diff(codes.cpu().long(), wc.long())]
                v, _ = kernels.block_quantize(fmt, x.cuda(), rounding=rounding, seed=9, two_d=two_d, values=True)
                wv, _ = gblock.fake_quantize(fmt, x, None, rounding, 9, two_d)
                msg.append("values " + first_diff(torch.nan_to_num(v.cpu().float()).view(torch.int32), torch.nan_to_num(wv.float()).view(torch.int32)))
                d = kernels.block_dequantize(fmt, codes, scales, ts, shape[1], two_d).cpu()
                wd = gblock.dequantize(fmt, gblock.unpack_nibbles(wc, shape[1]) if fmt.element.width <= 4 else wc,
                                       ws, wts, two_d).float()
                msg.append("deq " + first_diff(torch.nan_to_num(d).view(torch.int32), torch.nan_to_num(wd).view(torch.int32)))
                print(f"{name} {rounding} 2d={two_d} compile+run {t1 - t0:.1f}s total {time.time() - t0:.1f}s:", "; ".join(msg), flush=True)
            except Exception as e:  # noqa: BLE001
                print(f"{name} {rounding} 2d={two_d} ERROR {type(e).__name__}: {str(e)[:400]}", flush=True)
