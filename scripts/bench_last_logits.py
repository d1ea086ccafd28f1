# BENCHMARKS.md §11: what computing only the last position's logits would save in a choice
# prefill (the LM head sliced to the last position in a copy of the model; timed with
# onnxruntime-Python, 2 threads, median of 9). Usage: .venv-fixtures/bin/python scripts/bench_last_logits.py
# (writes and then deletes models/smollm2-135m-past/model-lastlogit.onnx).
import onnx, onnxruntime as ort, numpy as np, time
from onnx import helper, TensorProto
m=onnx.load("models/smollm2-135m-past/model.onnx", load_external_data=False)
g=m.graph
prod={o:n for n in g.node for o in n.output}
n=prod["logits"]; print(n.op_type, n.input)
a=n.input[0]
g.initializer.extend([helper.make_tensor("lf_start",TensorProto.INT64,[1],[-1]),helper.make_tensor("lf_end",TensorProto.INT64,[1],[2**62]),helper.make_tensor("lf_axes",TensorProto.INT64,[1],[1])])
g.node.append(helper.make_node("Slice",[a,"lf_start","lf_end","lf_axes"],["lf_sliced"],name="lf_slice"))
n.input[0]="lf_sliced"
# topological: move slice before n
nodes=list(g.node); idx=nodes.index(n); sl=nodes[-1]; nodes=nodes[:-1]; nodes.insert(idx,sl)
del g.node[:]; g.node.extend(nodes)
onnx.save(m,"models/smollm2-135m-past/model-lastlogit.onnx")
so=ort.SessionOptions(); so.intra_op_num_threads=2
names=None
def bench(path,L=56,reps=9):
    s=ort.InferenceSession(path,so,providers=["CPUExecutionProvider"])
    names=[i.name for i in s.get_inputs()]
    d={"input_ids":np.ones((1,L),np.int64)*17,"attention_mask":np.ones((1,L),np.int64),"position_ids":np.arange(L)[None].astype(np.int64)}
    for nm in names:
        if nm.startswith("past_key_values"): d[nm]=np.zeros((1,3,0,64),np.float32)
    d={k:v for k,v in d.items() if k in names}
    s.run(None,d); ts=[]
    for _ in range(reps):
        t=time.perf_counter(); s.run(None,d); ts.append(time.perf_counter()-t)
    return sorted(ts)[reps//2]*1000
for L in (25,56,120):
    a=bench("models/smollm2-135m-past/model.onnx",L); b=bench("models/smollm2-135m-past/model-lastlogit.onnx",L)
    print(f"L={L}: all logits {a:.1f} ms, last only {b:.1f} ms, saves {100*(a-b)/a:.0f}%")
import os; os.remove("models/smollm2-135m-past/model-lastlogit.onnx")
