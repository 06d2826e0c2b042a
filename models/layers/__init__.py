"""Network layers shared by several families (none of them knows a family)."""
