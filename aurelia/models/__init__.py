"""Model strings -> LangChain chat models (embedded llama.cpp default, hosted, Hugging Face)."""
