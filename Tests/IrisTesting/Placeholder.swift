import IrisServer
