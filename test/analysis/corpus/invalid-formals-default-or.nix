{ a ? 1 or 2 }: a
