{ a ? c }: a
