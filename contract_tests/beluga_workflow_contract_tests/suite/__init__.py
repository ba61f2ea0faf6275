"""The rules of the store contract, one mixin class per area of SPEC section 4."""
