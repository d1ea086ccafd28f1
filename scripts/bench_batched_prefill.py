# BENCHMARKS.md §12, measured, not built: would batching the prefills of 8 examples pay off once
# the head runs at the last position only? The scoring form of models/smollm2-135m-past made
# with onnx (a Slice before the head, as painters_rewrite::head), 1 thread, onnxruntime-Python,
# median of 5: a prefill of 1 row against 8 rows of L tokens, and (all logits) a run of 50
# positions as a choice's continuations need. Usage: .venv-fixtures/bin/python scripts/bench_batched_prefill.py
# (writes and then deletes models/smollm2-135m-past/model-lf.onnx).
import onnx, onnxruntime as ort, numpy as np, time
from onnx import helper, TensorProto
src="models/smollm2-135m-past/model.onnx"
m=onnx.load(src, load_external_data=False); g=m.graph
prod={o:n for n in g.node for o in n.output}; n=prod["logits"]; a=n.input[0]
g.input.append(helper.make_tensor_value_info("lf_start",TensorProto.INT64,[1]))
g.initializer.extend([helper.make_tensor("lf_end",TensorProto.INT64,[1],[2**62]),helper.make_tensor("lf_axes",TensorProto.INT64,[1],[1])])
sl=helper.make_node("Slice",[a,"lf_start","lf_end","lf_axes"],["lf_sliced"],name="lf_slice"); n.input[0]="lf_sliced"
nodes=list(g.node); nodes.insert(nodes.index(n),sl); del g.node[:]; g.node.extend(nodes)
onnx.save(m,"models/smollm2-135m-past/model-lf.onnx")
so=ort.SessionOptions(); so.intra_op_num_threads=1
s=ort.InferenceSession("models/smollm2-135m-past/model-lf.onnx",so)
names=[i.name for i in s.get_inputs()]
def feed(B,L,last_only):
    d={"input_ids":np.full((B,L),17,np.int64),"attention_mask":np.ones((B,L),np.int64),"position_ids":np.tile(np.arange(L),(B,1)).astype(np.int64),"lf_start":np.array([L-1 if last_only else 0],np.int64)}
    for nm in names:
        if nm.startswith("past_key_values"): d[nm]=np.zeros((B,3,0,64),np.float32)
    return d
def t(B,L,last,reps=5):
    d=feed(B,L,last); s.run(None,d); ts=[]
    for _ in range(reps):
        t0=time.perf_counter(); s.run(None,d); ts.append(time.perf_counter()-t0)
    return sorted(ts)[reps//2]*1000
for L in (17,30,56):
    one=t(1,L,True); eight=t(8,L,True)
    print(f"prefill L={L}: 1 row {one:.1f} ms, 8 rows {eight:.1f} ms = {eight/8:.1f} per row ({one/(eight/8):.2f}x)")
for L in (50,):
    one=t(1,L,False); eight=t(8,L,False)
    print(f"all logits L={L}: 1 row {one:.1f} ms, 8 rows {eight:.1f} ms = {eight/8:.1f} per row ({one/(eight/8):.2f}x)")
import os; os.remove("models/smollm2-135m-past/model-lf.onnx")
