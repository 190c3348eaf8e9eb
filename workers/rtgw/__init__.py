"""The RT-Thread gateway worker ``rtgw``: consumes ``rtos.command``; produces ``rtos.ack``,
``rtos.telemetry`` and ``rtos.link``; bridges them to the IVMR v1 shared-memory rings.

Modules, one concept each:

- :mod:`workers.rtgw.layout`: the IVMR v1 wire format in pure Python (constants, record and
  header encoding); the golden-byte tests pin it against the C core.
- :mod:`workers.rtgw.ring`: the C ring core (``rtos/build/libivmr.so``) through ctypes.
- :mod:`workers.rtgw.region`: mapping the shared region (``shmfile``, ``uio``, ``devmem``).
- :mod:`workers.rtgw.doorbell`: waiting for and ringing the peer (``poll``, ``fifo``, ``uio``).
- :mod:`workers.rtgw.messages`: the car controller's message catalogue <-> bus models.
- :mod:`workers.rtgw.envelope`: the safety envelope (pure).
- :mod:`workers.rtgw.gateway`: the gateway logic (pure of the bus: returns what to publish).
- :mod:`workers.rtgw.__main__`: the worker recipe; :mod:`~workers.rtgw.manifest` and
  :mod:`~workers.rtgw.settings`: what it declares.
"""
