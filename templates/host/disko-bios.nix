        boot = {
          size = "1M";
          type = "EF02";
        };
