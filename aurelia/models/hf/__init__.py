"""The local Hugging Face runtime shared by the agent roles (``hf:`` model strings) and the
targets: loading once per process (``load``), processor input and generation (``io``) and a
LangChain chat model over them (``chat``). Needs the optional ``hf`` extra; importing this
package does not import torch."""
