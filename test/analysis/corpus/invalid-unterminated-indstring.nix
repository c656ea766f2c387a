'' abc
